"""The web application, its pages, the CLI, and background-work dispatch."""
