"""A tiny training run used by the resume (SIGKILL) and torchrun/DDP tests.

python train_script.py OUT.safetensors [--run-dir D] [--resume] [--sleep S] [--batch B] [--steps-ckpt K]
"""
import argparse
import time

import torch
from safetensors.torch import save_file

from paperzoo.data import TensorSet
from paperzoo.nn import MLP
from paperzoo.train import dist_info, fit, init_distributed, unwrap


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--run-dir", default=None)
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--sleep", type=float, default=0.0)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--ckpt-every", type=int, default=None)
    ap.add_argument("--dropout", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(1)
    init_distributed()
    g = torch.Generator().manual_seed(0)
    x = torch.randn(512, 8, generator=g, dtype=torch.float64)
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).long()
    torch.manual_seed(1)
    layers = [8, 16, 2]
    model = MLP(layers).double()
    if a.dropout:
        model = torch.nn.Sequential(torch.nn.Dropout(0.2), model)
    sched = lambda opt: torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    on_step = (lambda s, l: time.sleep(a.sleep)) if a.sleep else None
    fit(model, TensorSet(x, y), epochs=a.epochs, batch_size=a.batch,
        optimizer=lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9), scheduler=sched,
        run_dir=a.run_dir, resume=a.resume, ckpt_every=a.ckpt_every, seed=3, progress=False, on_step=on_step)
    if dist_info()[0] == 0:
        save_file({k: v.contiguous() for k, v in unwrap(model).state_dict().items()}, a.out)
    if torch.distributed.is_initialized():  # tear gloo down before exit (else: "terminate called ...", SIGABRT)
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main()
