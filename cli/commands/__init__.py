"""One module per subcommand; each exposes `register(subparsers)` and an async handler."""
