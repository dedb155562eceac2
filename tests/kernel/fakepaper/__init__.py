"""A plug-in paper for kernel tests: proves the contract machinery without any real paper."""
from paperzoo.registry import Paper
from paperzoo.results import Band, Claim

PAPER = Paper(
    slug="fake-paper", title="A fake paper", kind="theory", main_metric="mean",
    claims=(
        Claim("mean", paper=0.5, source="Eq. 1", bands={("smoke", "cpu"): Band(0.4, 0.6, reason="test")}),
        Claim("steps_run", paper=2, source="Sec. 2", bands={"cpu": Band(lo=2, reason="test")}),
        Claim("missing", paper=1, source="Sec. 3", bands={"full": Band(lo=0, reason="never measured by design")}),
    ),
)
