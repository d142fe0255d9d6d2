"""Referral: the facility directory (KMHFL plus the curated overlay) and place search."""
