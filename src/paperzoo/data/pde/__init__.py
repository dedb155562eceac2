"""PDE and operator-learning data, generated here (deterministic, seeded) and cached on disk.

>>> from paperzoo.data.pde import antiderivative_data, darcy_piecewise, generated
>>> d = antiderivative_data(1000, m=100, points=100, seed=0)          # u (1000, 100), y (1000, 100, 1), s (1000, 100)
>>> a, u = darcy_piecewise(8, 64, seed=0)                             # FNO's Darcy recipe at 64 x 64
>>> sets = generated("darcy", {"n": 8, "res": 64, "seed": 0}, lambda: dict(zip("au", darcy_piecewise(8, 64))))

Every solver has a convergence test (``tests/kernel/test_pde.py``): its error against an analytic solution
shrinks at the scheme's order when the grid or step is refined.
"""
from paperzoo.data.pde.elliptic import darcy_piecewise, darcy_solve, poisson_dst
from paperzoo.data.pde.evolution import fisher_rd, ns_forcing, ns_initial, ns_vorticity
from paperzoo.data.pde.grf import GRF1D, grf2d
from paperzoo.data.pde.ode import OperatorData, antiderivative_data, nonlinear_ode_data, ppoly_at, rk4_ode, sensors
from paperzoo.data.pde.store import GENERATOR_VERSION, generated, list_generated, pde_dir, read_mat

__all__ = ["GENERATOR_VERSION", "GRF1D", "OperatorData", "antiderivative_data", "darcy_piecewise", "darcy_solve",
           "fisher_rd", "generated", "grf2d", "list_generated", "nonlinear_ode_data", "ns_forcing", "ns_initial",
           "ns_vorticity", "pde_dir", "poisson_dst", "ppoly_at", "read_mat", "rk4_ode", "sensors"]
