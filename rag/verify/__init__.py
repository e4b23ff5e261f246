"""Checking answers: the support checker and the citation check of generated text."""
