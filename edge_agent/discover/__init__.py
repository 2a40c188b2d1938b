"""Commissioning: find the units on a line, recognise their models, propose the config."""
