"""hokusai-preview: a local, non-binding DeltaOne estimate for contributed training data.

Layout: ``core`` holds what every command shares (the stage protocol, the cache, the baseline
bundle, the model recipe, the metrics and the estimate); ``stages`` holds one module per pipeline
stage (hp-load ... hp-format); ``tools`` holds the commands beside the pipeline (hp-baseline, ...).
"""

__version__ = "0.9.7"
