"""Author and operator tools behind the CLI: eval, report, new-story, taught."""
