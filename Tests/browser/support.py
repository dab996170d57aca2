"""What the browser journeys share: a Chromium wrapper, the page texts, test identifiers."""

import datetime
import os
import random
import json
import re
import time

from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PHONE = (360, 740)
DESKTOP = (1280, 900)


# --- Page texts -------------------------------------------------------------------------------

def load_texts(language):
    """Reads Web/i18n/<language>.yaml into {"dotted.key": "text"}.

    The files are nested maps of plain strings (two-space indentation), which is all this
    small reader understands; the Swift tests check the files themselves.
    """
    path = os.path.join(ROOT, "Web", "i18n", language + ".yaml")
    texts, stack = {}, []
    with open(path, encoding="utf-8") as f:
        for raw in f:
            line = raw.rstrip("\n")
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            indent = len(line) - len(line.lstrip(" "))
            key, _, value = line.strip().partition(":")
            key = key.strip().strip('"')
            value = value.strip()
            while stack and stack[-1][0] >= indent:
                stack.pop()
            if value == "":
                stack.append((indent, key))
                continue
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
                value = value[1:-1]
            texts[".".join([k for _, k in stack] + [key])] = value
    return texts


def load_policy_names():
    """The names policy gives (the pages show them, not Web/i18n): `category.<id>`,
    `flag_category.<id>` and `sector_level.<category>.<n>`, per language, read from the flow-style
    lines of Policies/sectors.yaml and Policies/flags.yaml."""
    import re
    root = os.path.join(os.path.dirname(__file__), "..", "..", "Policies")
    names = {"zh-CN": {}, "en": {}}
    categories = []
    with open(os.path.join(root, "sectors.yaml"), encoding="utf-8") as f:
        for line in f:
            m = re.match(r"\s*- \{id: ([a-z_]+), zh: ([^,]+), en: ([^,}]+)", line)
            if m and "category" not in line.split("en:")[1]:
                names["zh-CN"]["category." + m[1]], names["en"]["category." + m[1]] = m[2].strip(), m[3].strip()
                categories.append(m[1])
            m = re.match(r"\s*(zh-CN|en): \[(.*)\]", line)
            if m:
                levels = [v.strip() for v in m[2].split(",")]
                names[m[1]].setdefault("_pending", []).append(levels)
            if re.match(r"\s*- id: ", line):
                # A new sector: the level names read so far belong to the categories before it.
                _assign_levels(names, categories)
                categories = []
        _assign_levels(names, categories)
    with open(os.path.join(root, "flags.yaml"), encoding="utf-8") as f:
        for line in f:
            m = re.match(r"  ([a-z_]+): +\{ source: [a-z_]+, zh: ([^,]+), en: ([^,}]+)", line)
            if m:
                names["zh-CN"]["flag_category." + m[1]], names["en"]["flag_category." + m[1]] = m[2].strip(), m[3].strip()
    return names


def _assign_levels(names, categories):
    for language in ("zh-CN", "en"):
        pending = names[language].pop("_pending", [])
        if pending:
            for category in categories:
                for n, name in enumerate(pending[-1], start=1):
                    names[language]["sector_level.%s.%d" % (category, n)] = name


TEXTS = {"zh-CN": load_texts("zh-CN"), "en": load_texts("en")}
for _language, _names in load_policy_names().items():
    TEXTS[_language].update(_names)


# --- Test identifiers -------------------------------------------------------------------------

ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def id_number(female=True, birth=None):
    """A valid resident ID number (GB 11643) from region 320102, a woman by default."""
    birth = birth or "19%02d%02d%02d" % (random.randint(70, 99), random.randint(1, 12), random.randint(1, 28))
    serial = random.randrange(0, 1000, 2) if female else random.randrange(1, 1000, 2)
    body = "320102" + birth + "%03d" % serial
    check = "10X98765432"[sum(int(d) * w for d, w in zip(body, ID_WEIGHTS)) % 11]
    return body + check


def uscc():
    """A valid unified social credit code (GB 32100)."""
    body = "91320100MA" + "".join(random.choice("0123456789") for _ in range(7))
    total, weight = 0, 1
    for c in body:
        total += USCC_ALPHABET.index(c) * weight
        weight = weight * 3 % 31
    return body + USCC_ALPHABET[(31 - total % 31) % 31]


def phone():
    return "139" + "".join(random.choice("0123456789") for _ in range(8))


def tag():
    return "%06d" % random.randint(0, 999999)


def day(offset):
    return (datetime.date.today() + datetime.timedelta(days=offset)).isoformat()


def texted_code(record_path, phone_number, kind, containing="", timeout=15):
    """The code in the newest text of `kind` to this phone (whose text contains `containing`), read
    from the recording SMS gateway's record (Tests/support/sms_gateway.py), as she would read her
    phone."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        codes = []
        try:
            with open(record_path, encoding="utf-8") as f:
                for line in f:
                    if not line.strip():
                        continue
                    message = json.loads(line)
                    if message["to"] == phone_number and message["kind"] == kind and containing in message["text"]:
                        match = re.search(r"(?:码为?|code(?: is)? )(\d{6})", message["text"])
                        if match:
                            codes.append(match.group(1))
        except OSError:
            pass
        if codes:
            return codes[-1]
        time.sleep(0.25)
    raise AssertionError("no %s texted to %s****%s in %s" % (kind, phone_number[:3], phone_number[-4:], record_path))


def consent_code(record_path, phone_number, agency_name, timeout=15):
    """The transfer consent code texted to this phone for this requesting agency."""
    return texted_code(record_path, phone_number, "transfer_consent_code", containing=agency_name, timeout=timeout)


# --- The browser ------------------------------------------------------------------------------

class Browser:
    """Headless Chromium at one window size, speaking one language, with helpers for forms."""

    def __init__(self, base_url, size, language):
        options = webdriver.ChromeOptions()
        options.binary_location = os.environ.get("CHROMIUM", "/usr/bin/chromium")
        for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--window-size=%d,%d" % size, "--lang=" + language):
            options.add_argument(argument)
        options.add_experimental_option("prefs", {"intl.accept_languages": language})
        service = Service(os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver"))
        self.driver = webdriver.Chrome(service=service, options=options)
        self.driver.set_page_load_timeout(30)
        if size[0] < 500:
            # Headless windows keep a minimum width; emulate the phone's viewport exactly.
            self.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
                "width": size[0], "height": size[1], "deviceScaleFactor": 2, "mobile": True})
        self.base = base_url.rstrip("/")
        self.size = size
        self.language = language

    def close(self):
        self.driver.quit()

    # Reading

    def t(self, key, **values):
        """The page text for `key` in the language the pages are expected to be in."""
        text = TEXTS[self.language][key]
        for name, value in values.items():
            text = text.replace("{%s}" % name, str(value))
        return text

    def find(self, css):
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def finds(self, css):
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def body(self):
        return self.find("body").text

    def path(self):
        url = self.driver.current_url
        return url[len(self.base):] if url.startswith(self.base) else url

    def expect_text(self, text, where="main"):
        shown = self.find(where).text
        assert text in shown, "expected %r in %s of %s, got:\n%s" % (text, where, self.path(), shown[:1500])

    def expect_no_text(self, text, where="main"):
        assert text not in self.find(where).text, "did not expect %r on %s" % (text, self.path())

    def expect_notice(self, key):
        self.expect_text(self.t("notices." + key), where="p.notice")

    def expect_page_language(self):
        lang = self.find("html").get_attribute("lang")
        assert lang == self.language, "page language %r, expected %r on %s" % (lang, self.language, self.path())

    def expect_fits_width(self):
        """Nothing on the page is wider than the window (no sideways scrolling on a phone)."""
        overflow = self.driver.execute_script(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 1, "page %s is %dpx wider than the %dpx window" % (self.path(), overflow, self.size[0])

    # Moving

    def open(self, path):
        self.driver.get(self.base + path)
        self.arrived()

    def arrived(self):
        """Checks every page reached: its language, and on a phone that it fits the width."""
        self.expect_page_language()
        if self.size == PHONE:
            self.expect_fits_width()

    def click(self, css):
        """Clicks a link or button and waits until the next page has loaded."""
        element = self.find(css)
        self.driver.execute_script("arguments[0].scrollIntoView({block: 'center'}); window.__leaving = true", element)
        element.click()
        self.wait_for_new_page("clicking %s" % css)
        self.arrived()

    def wait_for_new_page(self, what, timeout=15):
        """Waits for a document without the mark set on the old one, fully loaded. (Waiting for
        an old element to go stale trips over chromedriver while the page is being replaced.)"""
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                if self.driver.execute_script("return !window.__leaving && document.readyState === 'complete'"):
                    return
            except WebDriverException:
                pass  # the old document is going away
            time.sleep(0.05)
        raise AssertionError("%s on %s did not lead to a new page" % (what, self.path()))

    def submit(self, form_css):
        """Submits a form with its (first) submit button."""
        self.click(form_css + " button[type=submit]")

    # Filling forms

    def fill(self, name, value, form="main form"):
        element = self.find("%s [name='%s']" % (form, name))
        element.clear()
        element.send_keys(value)

    def date(self, name, iso, form="main form"):
        """Sets a date input (typing into one depends on the browser's locale)."""
        element = self.find("%s [name='%s']" % (form, name))
        self.driver.execute_script("arguments[0].value = arguments[1]", element, iso)

    def choose(self, name, value, form="main form"):
        element = self.find("%s input[name='%s'][value='%s']" % (form, name, value))
        if not element.is_selected():
            self.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
            element.click()

    def select(self, name, value, form="main form"):
        Select(self.find("%s select[name='%s']" % (form, name))).select_by_value(value)

    def value(self, name, form="main form"):
        return self.find("%s [name='%s']" % (form, name)).get_attribute("value")

    def checked(self, name, value, form="main form"):
        return self.find("%s input[name='%s'][value='%s']" % (form, name, value)).is_selected()

    def field_error(self, name):
        """The message shown next to a field, or None."""
        errors = self.finds("#%s-error" % name)
        return errors[0].text if errors else None

    def chart_titles(self):
        """The title of every chart on the page: each svg[role=img] with its <title> text ("" when none)."""
        titles = []
        for svg in self.finds("svg[role='img']"):
            found = svg.find_elements(By.CSS_SELECTOR, "title")
            titles.append(found[0].get_attribute("textContent").strip() if found else "")
        return titles

    def screenshot(self, path):
        self.driver.save_screenshot(path)
        with open(path.rsplit(".", 1)[0] + ".html", "w", encoding="utf-8") as f:
            f.write(self.driver.page_source)
