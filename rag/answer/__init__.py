"""Choosing the answer: candidate sentences, the fitted selector, refusal, conflicting reports."""
