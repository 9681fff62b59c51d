"""andon.pipelines"""
