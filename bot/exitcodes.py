"""Exit statuses of `python -m bot`, every command and `run` alike, so a supervisor reads them
the same way: 2 means "fix the configuration or the knowledge base", not "try again"."""

EXIT_OK = 0
EXIT_FAILURE = 1  # failed while working, e.g. the data directory or database is unusable
EXIT_CONFIG = 2  # the operator must fix something: a setting, the token, the knowledge base
EXIT_UNAVAILABLE = 3  # `run`: the Telegram Bot API could not be reached
EXIT_INTERRUPTED = 130
EXIT_CODES_HELP = f"""exit status:
  {EXIT_OK}    done
  {EXIT_FAILURE}    failed while working (e.g. the data directory or database cannot be used)
  {EXIT_CONFIG}    configuration or knowledge-base error (a setting, the token, the knowledge base,
       an eval file) or wrong usage: fix it and run again
  {EXIT_UNAVAILABLE}    run: the Telegram Bot API could not be reached
  {EXIT_INTERRUPTED}  interrupted (Ctrl-C)"""
