"""train: a compact GRPO trainer (with cold-start SFT and connector-only SFT) for the harness's models.

It exists so that the checkpoints the harness evaluates can be produced by code that is short enough
to read in one sitting: the loss math lives in `train.loss`, the loop in `train.grpo`, the supervised
stages in `train.sft`, and everything a run needs to be resumed or trusted (freeze groups, atomic
checkpoints, metrics, critical-token entropy) in one small module each. Run it with
`python -m train <stage> --config train/configs/<name>.yaml [key=value ...]`.
"""
