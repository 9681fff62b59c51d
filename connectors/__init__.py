"""andon.connectors"""
