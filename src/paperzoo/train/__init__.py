"""Training: the backprop loop, the Learner protocol, seeding, devices, checkpoints, DDP."""
from paperzoo.train.checkpoint import latest_step, load_checkpoint, save_checkpoint
from paperzoo.train.context import RunContext
from paperzoo.train.ddp import all_mean, dist_info, init_distributed, unwrap
from paperzoo.train.learner import Learner, full_batches
from paperzoo.train.log import MetricsLog, Progress, track
from paperzoo.train.loop import DivergenceError, FitResult, accuracy, cross_entropy_loss, fit
from paperzoo.train.seed import choose_device, epoch_generator, seed_everything

__all__ = [
    "DivergenceError", "FitResult", "Learner", "MetricsLog", "Progress", "RunContext", "accuracy", "all_mean",
    "choose_device", "cross_entropy_loss", "dist_info", "epoch_generator", "fit", "full_batches", "init_distributed",
    "latest_step", "load_checkpoint", "save_checkpoint", "seed_everything", "track", "unwrap",
]
