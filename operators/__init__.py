"""andon.operators"""
