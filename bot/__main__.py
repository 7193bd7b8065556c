"""`python -m bot ...`: see `bot/cli.py` for the commands."""

from bot.cli import entry

if __name__ == "__main__":
    entry()
