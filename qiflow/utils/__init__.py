"""``qiflow.utils``: PyTorch's ``torch.utils`` path (``qiflow.utils.data``)."""
