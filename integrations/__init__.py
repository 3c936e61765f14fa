"""Adapters to outside services (TMDB); each implements a port from `domain.ports`."""
