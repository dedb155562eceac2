"""The guidance paper's targets and guides (official ``language_modeling/rnn_models.py``,
``language_modeling/transformer.py``, ``imagenet-comparison/mlp.py``), at configurable sizes.

``StackedRNNLM``: the copy-paste RNN target; ``CausalTransformer``: the copy-paste Transformer guide;
``DeepFCN``: the deep fully connected target; ``ConvGuide``: a small untrained CNN guide standing in
for torchvision's ResNet-18 (not a dependency here).
"""
from __future__ import annotations

import math

import torch
from torch import nn

from paperzoo.registry import register_model

__all__ = ["COPY_VOCAB", "ConvGuide", "CausalTransformer", "DeepFCN", "PositionalEncoding", "StackedRNNLM"]

COPY_VOCAB = 13  # digits 0..9, 10 unused, copy token 11, EOS 12 (official copy-paste: vocab_size = 13)


def _positive(**kw) -> None:
    bad = {k: v for k, v in kw.items() if not isinstance(v, int) or v < 1}
    if bad:
        raise ValueError(f"sizes must be positive ints, got {bad}")


class StackedRNNLM(nn.Module):
    """Embedding -> ``depth`` single-layer tanh ``nn.RNN``s -> Linear, logits (B, T, vocab) for tokens (B, T).

    Official ``RNNLM``: each RNN layer starts from the previous layer's final hidden state
    (``chain_hidden=True``, a quirk of the official code; the first starts from zeros). Defaults are the
    paper's copy-paste target: embedding 256, hidden 512, 4 layers (official ``args.py``).
    """

    def __init__(self, vocab_size: int = COPY_VOCAB, *, embedding_dim: int = 256, width: int = 512, depth: int = 4,
                 chain_hidden: bool = True):
        super().__init__()
        _positive(vocab_size=vocab_size, embedding_dim=embedding_dim, width=width, depth=depth)
        self.embedding = nn.Embedding(vocab_size, embedding_dim)
        self.rnn = nn.ModuleList([nn.RNN(embedding_dim if i == 0 else width, width, batch_first=True,
                                         nonlinearity="tanh") for i in range(depth)])
        self.fc = nn.Linear(width, vocab_size)
        self.chain_hidden = chain_hidden

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 2 or x.dtype != torch.long:
            raise ValueError(f"StackedRNNLM expects int64 tokens (B, T), got {x.dtype} {tuple(x.shape)}")
        h, hid = self.embedding(x), None
        for layer in self.rnn:
            h, h_n = layer(h, hid)
            hid = h_n if self.chain_hidden else None
        return self.fc(h)


class PositionalEncoding(nn.Module):
    """Sinusoidal positions added to (B, T, d), then dropout (official ``PositionalEncoding``)."""

    def __init__(self, d_model: int, dropout: float = 0.1, max_len: int = 5000):
        super().__init__()
        pos = torch.arange(max_len, dtype=torch.float32).unsqueeze(1)
        div = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float32) * (-math.log(10000.0) / d_model))
        pe = torch.zeros(max_len, d_model)
        pe[:, 0::2] = torch.sin(pos * div)
        pe[:, 1::2] = torch.cos(pos * div)[:, :d_model // 2]
        self.register_buffer("pe", pe.unsqueeze(0), persistent=False)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(x + self.pe[:, :x.shape[1]])


class CausalTransformer(nn.Module):
    """The copy-paste Transformer (official ``Transformer``): embedding * sqrt(d) + sinusoidal positions,
    ``depth`` ``nn.TransformerDecoderLayer``s called as ``layer(h, h, tgt_mask=causal)`` (memory = the
    layer's own input, no memory mask), then Linear to the vocabulary; logits (B, T, vocab).

    ``share_layers=True`` reproduces the official ``nn.ModuleList([decoder_layer for _ in range(n)])``: one
    layer's weights applied ``depth`` times. Defaults: the paper's guide (d_model 512, 16 heads,
    feed-forward 512, 4 layers, dropout 0.1; official ``language_model.py``).
    """

    def __init__(self, vocab_size: int = COPY_VOCAB, *, width: int = 512, depth: int = 4, nhead: int = 16,
                 dim_feedforward: int = 512, dropout: float = 0.1, share_layers: bool = True):
        super().__init__()
        _positive(vocab_size=vocab_size, width=width, depth=depth, nhead=nhead, dim_feedforward=dim_feedforward)
        if width % nhead:
            raise ValueError(f"CausalTransformer: width (d_model) {width} must be divisible by nhead {nhead}")
        self.width = width
        self.embed = nn.Embedding(vocab_size, width)
        self.pos = PositionalEncoding(width, dropout)

        def layer() -> nn.TransformerDecoderLayer:
            return nn.TransformerDecoderLayer(width, nhead, dim_feedforward, dropout, batch_first=True)

        one = layer() if share_layers else None
        self.decoder = nn.ModuleList([one if share_layers else layer() for _ in range(depth)])
        self.final_layer = nn.Linear(width, vocab_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 2 or x.dtype != torch.long:
            raise ValueError(f"CausalTransformer expects int64 tokens (B, T), got {x.dtype} {tuple(x.shape)}")
        t = x.shape[1]
        mask = torch.triu(torch.full((t, t), float("-inf"), device=x.device), diagonal=1)
        h = self.pos(self.embed(x) * math.sqrt(self.width))
        for layer in self.decoder:
            h = layer(h, h, tgt_mask=mask)
        return self.final_layer(h)


class DeepFCN(nn.Module):
    """Flatten -> [Linear -> BatchNorm1d -> ReLU -> Dropout] x depth -> Linear (official ``ImageNetNarrowMLP``).

    The first block is ``first_width`` wide (default: ``width``), the rest ``width``. The paper's Deep FCN is
    ``first_width=2048, width=1024, depth=48`` on 150528 inputs; the defaults here are the card's CPU
    version (20 x 256, dropout 0.1).
    """

    def __init__(self, in_dim: int = 784, num_classes: int = 10, *, width: int = 256, depth: int = 20,
                 first_width: int | None = None, dropout: float = 0.1):
        super().__init__()
        first = width if first_width is None else first_width
        _positive(in_dim=in_dim, num_classes=num_classes, width=width, depth=depth, first_width=first)
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"DeepFCN: dropout must be in [0, 1), got {dropout}")
        dims = [in_dim, first] + [width] * (depth - 1)
        self.blocks = nn.Sequential(nn.Flatten(), *[nn.Sequential(nn.Linear(a, b), nn.BatchNorm1d(b), nn.ReLU(),
                                                                  nn.Dropout(dropout))
                                                    for a, b in zip(dims[:-1], dims[1:])])
        self.head = nn.Linear(dims[-1], num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.blocks(x))


class ConvGuide(nn.Module):
    """A small CNN guide: [Conv3x3 -> BatchNorm2d -> ReLU -> MaxPool2] x depth (width doubling), global
    average pool, Linear. A stand-in for the paper's (untrained) ResNet-18 guide; its tapped layers are the
    convolutions and the pool, as for a torchvision ResNet."""

    def __init__(self, in_chans: int = 1, num_classes: int = 10, *, width: int = 16, depth: int = 3):
        super().__init__()
        _positive(in_chans=in_chans, num_classes=num_classes, width=width, depth=depth)
        chans = [in_chans] + [width * 2 ** i for i in range(depth)]
        self.features = nn.Sequential(*[nn.Sequential(nn.Conv2d(a, b, 3, padding=1), nn.BatchNorm2d(b), nn.ReLU(),
                                                      nn.MaxPool2d(2, ceil_mode=True))
                                        for a, b in zip(chans[:-1], chans[1:])])
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(chans[-1], num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.pool(self.features(x)).flatten(1))


def _tokens() -> torch.Tensor:
    return torch.randint(0, COPY_VOCAB, (4, 16), generator=torch.Generator().manual_seed(0))


@register_model("guidance_rnn_lm", task="sequence", example=_tokens, knob="width")
def guidance_rnn_lm(vocab_size: int = COPY_VOCAB, *, width: int = 512, depth: int = 4,
                    embedding_dim: int = 256) -> StackedRNNLM:
    """Copy-paste RNN target (guidance, Table: sequence tasks): 4 stacked tanh RNNs of 512, embedding 256."""
    return StackedRNNLM(vocab_size, embedding_dim=embedding_dim, width=width, depth=depth)


@register_model("guidance_transformer", task="sequence", example=_tokens, knob=None)
def guidance_transformer(vocab_size: int = COPY_VOCAB, *, width: int = 512, depth: int = 4, nhead: int = 16,
                         dim_feedforward: int = 512) -> CausalTransformer:
    """Copy-paste Transformer guide (guidance): 4 decoder layers (shared weights, official), d 512, 16 heads.
    No budget knob: d_model must stay a multiple of the 16 heads and shared layers make depth free."""
    return CausalTransformer(vocab_size, width=width, depth=depth, nhead=nhead, dim_feedforward=dim_feedforward)


@register_model("guidance_deep_fcn", task=("fashion-mnist", "mnist", "cifar10"), knob="width")
def guidance_deep_fcn(in_dim: int = 784, num_classes: int = 10, *, width: int = 256, depth: int = 20,
                      dropout: float = 0.1) -> DeepFCN:
    """Deep FCN target (guidance): depth x [Linear-BN-ReLU-Dropout(0.1)] + Linear; card CPU size 20 x 256."""
    return DeepFCN(in_dim, num_classes, width=width, depth=depth, dropout=dropout)


@register_model("guidance_conv_guide", task=("fashion-mnist", "mnist", "cifar10"), knob="width")
def guidance_conv_guide(in_chans: int = 1, num_classes: int = 10, *, width: int = 16, depth: int = 3) -> ConvGuide:
    """Small CNN guide (guidance's ResNet-18 stand-in): 3 x [Conv3x3-BN-ReLU-MaxPool], GAP, Linear."""
    return ConvGuide(in_chans, num_classes, width=width, depth=depth)
