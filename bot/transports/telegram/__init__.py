"""The Telegram transport: python-telegram-bot handlers that only translate.

Update in -> call the plain-Python core (`bot.chat.replies.Replies`, the matcher, the store) -> send
what it returns. Nothing here decides what to say; `render.py` turns a `Reply` into Telegram's
wire format, `app.py` wires every handler, `runner.py` starts and stops the bot.
"""
