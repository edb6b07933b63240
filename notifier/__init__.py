"""The composition root: settings, the command line and the service that wires every package together."""
