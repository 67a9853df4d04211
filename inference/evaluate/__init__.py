"""Evaluation: segmentation IoU and the colour metrics of the seed paper."""
