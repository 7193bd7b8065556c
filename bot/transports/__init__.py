"""The ways users reach Kisah: Telegram and the terminal chat."""
