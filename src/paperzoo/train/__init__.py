"""Training: the backprop loop, the Learner protocol, seeding, devices, checkpoints, DDP."""
from .checkpoint import latest_step, load_checkpoint, save_checkpoint
from .context import RunContext
from .ddp import all_mean, dist_info, init_distributed, unwrap
from .learner import Learner
from .log import MetricsLog, Progress, track
from .loop import DivergenceError, FitResult, accuracy, cross_entropy_loss, fit
from .seed import choose_device, epoch_generator, seed_everything

__all__ = [
    "DivergenceError", "FitResult", "Learner", "MetricsLog", "Progress", "RunContext", "accuracy", "all_mean",
    "choose_device", "cross_entropy_loss", "dist_info", "epoch_generator", "fit", "init_distributed",
    "latest_step", "load_checkpoint", "save_checkpoint", "seed_everything", "track", "unwrap",
]
