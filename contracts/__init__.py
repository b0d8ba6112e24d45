"""Pydantic models and TOML config shared by every layer; depends on nothing else here."""
