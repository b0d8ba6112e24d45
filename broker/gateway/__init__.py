"""A TWS-socket-protocol paper gateway serving the simulated venue over loopback."""
