"""andon.operators.kernels"""
