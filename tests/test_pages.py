"""atlas.html and a study's report.html opened in a real browser (headless Chromium, driven by Selenium): every
image decodes, the units and numbers shown are those of the JSON beside the page, and the search box finds a
unit. `.ci/run` installs Debian's chromium and chromium-driver; without them these tests are skipped."""
import json
import os
import shutil

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
if os.environ.get("INVERT_REQUIRE_BROWSER") != "1":  # CI sets it: there, a missing browser is a failure
    pytest.importorskip("selenium.webdriver", reason="pip install selenium (the test extra)")
    pytestmark = pytest.mark.skipif(not (CHROMIUM and DRIVER),
                                    reason="no Chromium here: apt-get install -y chromium chromium-driver")
from selenium import webdriver  # noqa: E402

LAYER = "blocks.1"


@pytest.fixture(scope="module")
def browser():
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=1200,700"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(DRIVER))
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def atlas_folder(tmp_path_factory):
    """A five-unit atlas of blocks.1 under one prior, with examples from three photos."""
    from PIL import Image
    from skimage import data

    from invert import cli

    root = tmp_path_factory.mktemp("atlas")
    photos = root / "photos"
    photos.mkdir()
    for name in ("astronaut", "coffee", "chelsea"):
        Image.fromarray(getattr(data, name)()).save(photos / f"{name}.png")
    out = root / "atlas"
    assert cli.main(["atlas", "--layer", LAYER, "--units", "0:5", "--batch", "3", "--steps", "2", "--prior", "tv",
                     "--images", str(photos), "--top", "3", "--out", str(out), "--quiet"]) == 0
    return out


# how long a page may take to load its images: generous, so that a busy machine is slow but never fails
PAGE_WAIT_S = 120


def all_images_decoded(driver) -> bool:
    return driver.execute_script(
        "return Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)")


@pytest.mark.slow
def test_the_atlas_page_shows_every_unit_image_and_number_of_its_json(browser, atlas_folder):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from invert.atlas_page import number, times

    data = json.loads((atlas_folder / "atlas.json").read_text())
    browser.get((atlas_folder / "atlas.html").as_uri())
    rows = browser.find_elements(By.CSS_SELECTOR, "section.unit")
    assert [int(r.get_attribute("data-unit")) for r in rows] == [u["unit"] for u in data["units"]]
    for row in rows:  # images load as their row comes into view
        browser.execute_script("arguments[0].scrollIntoView()", row)
    WebDriverWait(browser, PAGE_WAIT_S).until(lambda d: d.execute_script(
        "return document.querySelectorAll('img[data-src]').length === 0"))
    WebDriverWait(browser, PAGE_WAIT_S).until(all_images_decoded)
    pictures = sum(len(u["pictures"]) + len(u["examples"]) for u in data["units"])
    assert len(browser.find_elements(By.TAG_NAME, "img")) == pictures
    for row, unit in zip(rows, data["units"]):
        shown = [e.text for e in row.find_elements(By.CSS_SELECTOR, ".viz .activation")]
        assert shown == [number(p["activation"]) for p in unit["pictures"]]
        shown = [e.text for e in row.find_elements(By.CSS_SELECTOR, ".viz .multiple")]
        assert shown == [times(p["multiple"]) for p in unit["pictures"]]
        for kind, key in (("slope", "spectral_slope"), ("spectrum", "spectrum_db")):
            shown = [e.text for e in row.find_elements(By.CSS_SELECTOR, f".viz .{kind}")]
            assert shown == [number(p[key]) for p in unit["pictures"]] and "–" not in shown
        shown = [e.text for e in row.find_elements(By.CSS_SELECTOR, ".crop .multiple")]
        assert shown == [times(e["multiple"]) for e in unit["examples"]]
        assert row.find_element(By.CSS_SELECTOR, ".best").text == number(unit["best_real"])


def test_the_atlas_search_box_finds_a_unit(browser, atlas_folder):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    browser.get((atlas_folder / "atlas.html").as_uri())
    box = browser.find_element(By.ID, "search")

    def shown() -> list[str]:  # rows the filter leaves (off-screen rows are not painted, but not hidden either)
        return browser.execute_script("return Array.from(document.querySelectorAll('section.unit'))"
                                      ".filter(r => r.style.display !== 'none').map(r => r.dataset.unit)")

    box.send_keys("3")
    assert shown() == ["3"] and browser.find_element(By.ID, "count").text == "1 of 5 units"
    box.send_keys(Keys.BACKSPACE)  # an emptied box shows every unit again
    assert shown() == ["0", "1", "2", "3", "4"] and browser.find_element(By.ID, "count").text == "5 of 5 units"


def test_a_study_report_shows_its_images_and_the_cells_numbers(browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from invert import studies
    from test_studies import run_to_report

    out = run_to_report(tmp_path, 'task = "restore"\nimages = ["skimage:camera", "skimage:coins"]\n'
                                  'priors = ["tv", "pixel"]\nsteps = 3\ncrop = 32\n')
    browser.get((out / "report.html").as_uri())
    WebDriverWait(browser, PAGE_WAIT_S).until(all_images_decoded)
    assert len(browser.find_elements(By.TAG_NAME, "img")) == 3  # two images' grids and the loss curves
    expected = studies.study_table([(s, r) for s, r, _ in studies.finished_cells(out)])
    table = [[td.text for td in tr.find_elements(By.TAG_NAME, "td")]
             for tr in browser.find_elements(By.CSS_SELECTOR, "table tr")][1:]
    assert len(table) == len(expected) == 2
    for shown, row in zip(table, expected):
        assert shown[:3] == [row["prior"], row["row"], str(row["cells"])]
        assert shown[3:] == [studies.report._mean_ci_text(v) for k, v in row.items() if k not in ("prior", "row", "cells")]


def test_the_page_opens_offline_from_one_file(atlas_folder, tmp_path, browser):
    """Copied alone elsewhere, atlas.html still shows its images: they are inside it."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    alone = tmp_path / "atlas.html"
    alone.write_bytes((atlas_folder / "atlas.html").read_bytes())
    browser.get(alone.as_uri())
    for row in browser.find_elements(By.CSS_SELECTOR, "section.unit"):
        browser.execute_script("arguments[0].scrollIntoView()", row)
    WebDriverWait(browser, PAGE_WAIT_S).until(all_images_decoded)  # an image without its data stays undecoded: a timeout
    assert len(browser.find_elements(By.TAG_NAME, "img")) == 5 * (1 + 3)  # each unit: one picture, three crops
