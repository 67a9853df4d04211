"""Training commands for the segmenter and the colour classifier."""
