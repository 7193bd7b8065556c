"""What team leads get: daily tips and their schedule, statistics, the inbox."""
