"""The web page in a real headless Chromium, driven by Selenium through chromium-driver."""

import json
import shutil
import urllib.request

import pytest

pytest.importorskip("fastapi", reason="the serve extra (fastapi) is not installed")
pytest.importorskip("uvicorn", reason="the serve extra (uvicorn) is not installed")
pytest.importorskip("selenium", reason="selenium is not installed (the test extra)")

from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from rnnkit.ner.tagger import SHIPPED, Tagger

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")

TEXT = "Yesterday Angela Merkel met Barack Obama in Berlin."


def shown_test_f1(name):
    """A shipped model's test F1 as the page shows it: a percentage to one decimal."""
    return f"{100 * Tagger.load(name).meta['shipped_scores']['test']['f1']:.1f}"


NAMES = ["Angela Merkel", "Barack Obama"]


@pytest.fixture
def browser():
    if not CHROMIUM or not CHROMEDRIVER:
        pytest.skip(
            "needs Chromium and chromedriver (Debian: apt-get install chromium chromium-driver; "
            ".ci/browser installs them)"
        )
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(flag)
    options.add_argument("--window-size=1100,900")
    # The driver named here: Selenium would otherwise try to download one.
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(CHROMEDRIVER))
    yield driver
    driver.quit()


def tag_on_the_page(driver, text):
    box = driver.find_element(By.ID, "text")
    box.clear()
    box.send_keys(text)
    driver.find_element(By.ID, "tag").click()
    WebDriverWait(driver, 60).until(
        lambda d: (
            d.find_element(By.ID, "status").text.endswith("name(s)")
            or d.find_element(By.ID, "error").is_displayed()
        )
    )
    assert not driver.find_element(By.ID, "error").is_displayed()


def json_view(driver):
    """What the page's JSON view shows."""
    return json.loads(driver.find_element(By.ID, "json").text)


def api_answer(endpoint):
    """What POST `endpoint` answers for TEXT."""
    body, headers = json.dumps({"text": TEXT}).encode(), {"Content-Type": "application/json"}
    with urllib.request.urlopen(urllib.request.Request(endpoint, body, headers), timeout=60) as r:
        return json.load(r)


def test_the_page_highlights_the_names_with_their_offsets(serve, browser, tmp_path):
    with serve("--no-access-log") as (_, url):
        browser.get(url)
        WebDriverWait(browser, 60).until(
            lambda d: (
                len(Select(d.find_element(By.ID, "model")).options) == len(SHIPPED)
                and d.find_element(By.ID, "model-info").text
            )
        )
        assert (
            f"test F1 {shown_test_f1('default')}%" in browser.find_element(By.ID, "model-info").text
        )
        tag_on_the_page(browser, TEXT)

        marks = browser.find_elements(By.CSS_SELECTOR, "#marked mark.entity")
        assert [m.text for m in marks] == NAMES
        assert [m.get_attribute("data-type") for m in marks] == ["PER", "PER"]
        # ŷ on hover: each word's title holds its label and ŷ.
        words = marks[0].find_elements(By.CSS_SELECTOR, "span.token")
        assert [w.text for w in words] == ["Angela", "Merkel"]
        assert all("ŷ = 0." in w.get_attribute("title") for w in words)
        # The offsets shown are those of the names in the text typed.
        rows = [
            [td.text for td in tr.find_elements(By.TAG_NAME, "td")]
            for tr in browser.find_elements(By.CSS_SELECTOR, "#entities tbody tr")
        ]
        want = [[n, "PER", str(TEXT.index(n)), str(TEXT.index(n) + len(n))] for n in NAMES]
        assert [row[:4] for row in rows] == want
        # The JSON view holds what the API answers.
        browser.find_element(By.CSS_SELECTOR, "#json-view summary").click()
        assert json_view(browser) == api_answer(f"{url}/tag")
        browser.save_screenshot(str(tmp_path / "serve.png"))
        assert (tmp_path / "serve.png").stat().st_size > 0

        # The types the default learned, those it shows ticked: ticking LOC marks the place too,
        # as the API answers with ?show=PER,LOC.
        boxes = browser.find_elements(By.CSS_SELECTOR, "#types input")
        assert [(b.get_attribute("value"), b.is_selected()) for b in boxes] == [
            (t, t == "PER") for t in Tagger.load().task.tagset.types
        ]
        next(b for b in boxes if b.get_attribute("value") == "LOC").click()
        tag_on_the_page(browser, TEXT)
        marks = browser.find_elements(By.CSS_SELECTOR, "#marked mark.entity")
        assert [(m.text, m.get_attribute("data-type")) for m in marks] == [
            *((n, "PER") for n in NAMES),
            ("Berlin", "LOC"),
        ]
        assert json_view(browser) == api_answer(f"{url}/tag?show=PER,LOC")
        for box in boxes:  # no type ticked: the server's 400 is shown, naming the types
            if box.is_selected():
                box.click()
        browser.find_element(By.ID, "tag").click()
        WebDriverWait(browser, 60).until(lambda d: d.find_element(By.ID, "error").is_displayed())
        assert "400: show names no type" in browser.find_element(By.ID, "error").text

        # The model picker: the lecture's model answers, and its scores are shown.
        Select(browser.find_element(By.ID, "model")).select_by_value("lecture")
        lecture_f1 = shown_test_f1("lecture")
        WebDriverWait(browser, 60).until(
            lambda d: f"test F1 {lecture_f1}%" in d.find_element(By.ID, "model-info").text
        )
        tag_on_the_page(browser, TEXT)
        assert json_view(browser) == api_answer(f"{url}/tag?model=lecture")
