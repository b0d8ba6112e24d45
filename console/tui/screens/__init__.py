"""Console screens: the main screen, full-screen views and confirmation modals."""
