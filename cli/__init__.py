"""The command line: argparse and one module per command; its `run` starts the service."""
