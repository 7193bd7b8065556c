"""The stories and UI texts as data: model, loading, validation, the seeds' text."""
