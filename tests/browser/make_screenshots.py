"""Regenerate the README's screenshots of the site from the committed records:

    .venv/bin/python -m tests.browser.make_screenshots [PAPER_SLUG]     (from the repository root)

Builds the site from ``results/`` into ``site/`` (not committed), opens it in headless Chromium and
writes ``docs/screenshots/index.png`` (the index, top) and ``docs/screenshots/paper.png`` (a paper
page at its first recorded run: claims vs ours, config, tables, plots), reduced to 192 colours.
"""
from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image
from selenium import webdriver

from paperzoo.report import build_site, judged_records
from tests.browser.test_site import CHROME, DRIVER

ROOT = Path(__file__).resolve().parents[2]


def main(slug: str | None = None) -> None:
    if not (CHROME and DRIVER):
        raise SystemExit("needs chromium + chromedriver: apt-get install chromium chromium-driver")
    site = ROOT / "site"
    build_site(site, ROOT / "results")
    recs = judged_records(ROOT / "results")
    slug = slug or max(recs, key=lambda s: sum(len(j.record.curves) for j in recs[s]))  # the paper with most plots
    first = recs[slug][0].key
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROME
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1200,1250"):
        opts.add_argument(a)
    d = webdriver.Chrome(options=opts, service=webdriver.ChromeService(executable_path=DRIVER))
    out = ROOT / "docs" / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    try:
        for name, page, anchor in (("index", site / "index.html", None), ("paper", site / "papers" / f"{slug}.html", first)):
            d.get(page.as_uri())
            if anchor:
                d.execute_script(f"document.getElementById('record-{anchor}').scrollIntoView()")
            d.save_screenshot(str(out / f"{name}.png"))
            im = Image.open(out / f"{name}.png").convert("RGB")
            im.quantize(colors=192, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE).save(out / f"{name}.png",
                                                                                                  optimize=True)
            print(f"wrote {out / f'{name}.png'} ({page.name})")
    finally:
        d.quit()


if __name__ == "__main__":
    main(*sys.argv[1:2])
