"""The retention report's HTML page (common/report_render.h) in headless
Chromium, at a phone's size (390x844) and a desktop's (1280x900).

render_report_json (a test helper in AC_BIN_DIR) renders
tests/data/report_sample.json. Chromium is driven over the DevTools
protocol on a pipe (--remote-debugging-pipe), not with --window-size and
--screenshot: headless Chromium will not make a window narrower than 500
px, so only device-metrics emulation gives a true 390 px phone (with its
viewport meta tag honoured). A probe script, evaluated in the loaded page
(the page itself has none), measures the layout.

    test_1  phone: every section; nothing wider than the screen but inside
            a table's own scroll box; no chart text clipped or overlapping;
            no text under 10 px; no request but the page itself, no console
            message, no exception
    test_2  desktop: the same; the wide volume chart shown, ratings and
            messages side by side
    test_3  a hostile, long store id and long kinds: shown as text, no
            element of theirs, still no horizontal overflow on a phone
    test_4  the whole phone page, drawn at half scale, against
            tests/data/report_phone.png (a pixel differs when a channel
            differs by more than DIFF_LEVEL; at most DIFF_SHARE of them
            may); on failure the new screenshot and a diff image
            (differences in red) are written to AC_TEST_OUT and named in the
            log. AC_UPDATE_SCREENSHOTS=1 writes the reference instead.
    test_5  the probe itself: on a page broken on purpose (a table outside
            its scroll box, an element too wide, chart text clipped and
            overlapping, tiny text, an image fetched, a script that logs)
            it finds each fault, so that the checks above can fail

Screenshots and pages land in AC_TEST_OUT (default: a temporary directory,
printed). Chromium is found on PATH, or set AC_CHROMIUM.

    AC_BIN_DIR=../../build/bin python3 -m unittest -v test_report_html
"""

import base64
import fcntl
import json
import os
import select
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import unittest
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SAMPLE = os.path.join(ROOT, "tests", "data", "report_sample.json")
REFERENCE = os.path.join(ROOT, "tests", "data", "report_phone.png")
BIN_DIR = os.environ.get("AC_BIN_DIR", os.path.join(ROOT, "build", "bin"))
PHONE, DESKTOP = (390, 844), (1280, 900)
SECTIONS = ("headline", "ratings", "messages", "suppressed", "volume", "holdout", "cohorts")
DIFF_LEVEL, DIFF_SHARE = 40, 0.01
MIN_FONT_PX = 10

# The probe, evaluated in the loaded page: what it finds as JSON.
PROBE = """(() => {
  const vw = document.documentElement.clientWidth, out = {vw, problems: [], fonts: []};
  const where = el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
    ' "' + (el.textContent || '').trim().slice(0, 40) + '"';
  const shown = el => el.getClientRects().length > 0;
  out.scrollWidth = document.documentElement.scrollWidth;
  out.height = document.documentElement.scrollHeight;
  out.overflowX = [getComputedStyle(document.documentElement).overflowX,
                   getComputedStyle(document.body).overflowX];
  for (const el of document.querySelectorAll('body *')) {
    if (!shown(el) || (el.closest('.scroll') && !el.classList.contains('scroll'))) continue;
    const r = el.getBoundingClientRect();
    if (r.width > 0 && (r.right > vw + 0.5 || r.left < -0.5))
      out.problems.push('outside the screen: ' + where(el));
  }
  for (const t of document.querySelectorAll('table'))
    if (!t.parentElement.classList.contains('scroll')) out.problems.push('bare ' + where(t));
  for (const svg of document.querySelectorAll('svg')) {
    if (!shown(svg)) continue;
    const vb = svg.viewBox.baseVal, boxes = [];
    if (!vb || !vb.width) { out.problems.push('svg without viewBox'); continue; }
    for (const t of svg.querySelectorAll('text')) {
      const b = t.getBBox();
      if (b.x < vb.x - 0.5 || b.y < vb.y - 0.5 || b.x + b.width > vb.x + vb.width + 0.5 ||
          b.y + b.height > vb.y + vb.height + 0.5)
        out.problems.push('clipped by its chart: ' + where(t));
      for (const o of boxes)
        if (b.x < o.x + o.width - 0.5 && o.x < b.x + b.width - 0.5 &&
            b.y < o.y + o.height - 0.5 && o.y < b.y + b.height - 0.5)
          out.problems.push('overlapping: ' + where(t) + ' and ' + where(o.t));
      boxes.push({x: b.x, y: b.y, width: b.width, height: b.height, t});
      const m = t.getScreenCTM();
      out.fonts.push([parseFloat(getComputedStyle(t).fontSize) * Math.hypot(m.a, m.b), where(t)]);
    }
  }
  const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n; (n = walk.nextNode());) {
    const el = n.parentElement;
    if (n.textContent.trim() && !el.closest('svg') && shown(el))
      out.fonts.push([parseFloat(getComputedStyle(el).fontSize), where(el)]);
  }
  out.sections = [...document.querySelectorAll('section[id]')].map(s => s.id);
  out.rects = Object.fromEntries([...document.querySelectorAll('section[id]')].map(
    e => [e.id, e.getBoundingClientRect().toJSON()]));
  out.visibleSvgs = [...document.querySelectorAll('svg')].filter(shown).length;
  out.kinds = [...document.querySelectorAll('#holdout h3')].map(h => h.textContent);
  out.h1 = document.querySelector('h1').textContent;
  out.text = document.body.innerText;
  out.scripts = document.scripts.length;
  out.elementsFromReport = document.querySelectorAll('main img, main b').length;
  out.resources = performance.getEntriesByType('resource').map(e => e.name);
  return JSON.stringify(out);
})()"""


# ---------------------------------------------------------------- PNG

def png_read(path):
    """(width, height, rows): 8-bit RGB rows (bytes) of a non-interlaced
    8-bit RGB or RGBA PNG (what Chromium writes); alpha is dropped."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError(f"{path}: not a PNG")
    pos, idat = 8, []
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
            if depth != 8 or colour not in (2, 6) or interlace:
                raise ValueError(f"{path}: only 8-bit RGB/RGBA, non-interlaced")
        elif kind == b"IDAT":
            idat.append(body)
        pos += 12 + n
    bpp = 3 if colour == 2 else 4
    rows = unfilter(zlib.decompress(b"".join(idat)), w, h, bpp)
    if bpp == 4:
        rows = [bytes(b for i, b in enumerate(r) if i % 4 != 3) for r in rows]
    return w, h, rows


def unfilter(raw, w, h, bpp):
    """Undoes PNG's per-row filters. Up, the commonest, is added eight
    bytes at a time through Python's integers: with each byte's top bit
    handled apart, no carry crosses into the next byte."""
    stride = w * bpp
    top = int.from_bytes(b"\x80" * stride, "little")
    low = int.from_bytes(b"\x7f" * stride, "little")
    prev, rows = bytes(stride), []
    for y in range(h):
        f, line = raw[y * (stride + 1)], raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)]
        if f == 0:
            cur = line
        elif f == 2:
            a, b = int.from_bytes(line, "little"), int.from_bytes(prev, "little")
            cur = (((a & low) + (b & low)) ^ ((a ^ b) & top)).to_bytes(stride, "little")
        else:
            cur = bytearray(line)
            for i in range(stride):
                left = cur[i - bpp] if i >= bpp else 0
                if f == 1:
                    p = left
                elif f == 3:
                    p = (left + prev[i]) >> 1
                else:
                    up, ul = prev[i], prev[i - bpp] if i >= bpp else 0
                    pa, pb, pc = abs(up - ul), abs(left - ul), abs(left + up - 2 * ul)
                    p = left if pa <= pb and pa <= pc else up if pb <= pc else ul
                cur[i] = (cur[i] + p) & 255
            cur = bytes(cur)
        rows.append(cur)
        prev = cur
    return rows


def png_write(path, w, h, rows):
    """Writes 8-bit RGB rows as a PNG (every row filtered Up)."""
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(
            ">I", zlib.crc32(kind + body) & 0xffffffff)
    raw, prev = bytearray(), bytes(w * 3)
    for r in rows:
        raw.append(2)
        raw += bytes((a - b) & 255 for a, b in zip(r, prev))
        prev = r
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(bytes(raw), 9)) + chunk(b"IEND", b""))


def compare(new, ref):
    """(share of pixels that differ, diff rows): the diff is the new image
    faded, differing pixels red; sizes that differ count the pixels
    outside the common part as different."""
    (w, h, a), (rw, rh, b) = new, ref
    differ, diff = 0, []
    for y in range(h):
        if y < rh and w == rw and a[y] == b[y]:  # the common case, at C speed
            diff.append(bytes(255 - (255 - v) // 4 for v in a[y]))
            continue
        row = bytearray()
        for x in range(w):
            p = a[y][x * 3:x * 3 + 3]
            q = b[y][x * 3:x * 3 + 3] if y < rh and x < rw else None
            if q is None or max(abs(p[0] - q[0]), abs(p[1] - q[1]),
                                abs(p[2] - q[2])) > DIFF_LEVEL:
                differ += 1
                row += b"\xff\x00\x00"
            else:
                row += bytes(255 - (255 - v) // 4 for v in p)
        diff.append(bytes(row))
    total = max(w, rw) * max(h, rh)
    return (differ + total - w * h) / total, diff


# ------------------------------------------------------------ Chromium

def find_chromium():
    for name in (os.environ.get("AC_CHROMIUM"), "chromium", "chromium-browser",
                 "google-chrome"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


class Chromium:
    """Headless Chromium over the DevTools protocol: JSON messages ending in
    a NUL byte, read by Chromium from fd 3 and answered on fd 4."""

    def __init__(self, exe, log_path):
        self.profile = tempfile.TemporaryDirectory(prefix="ac-chromium-")
        to_child, self.to_chrome = os.pipe()
        self.from_chrome, from_child = os.pipe()
        # Above fd 4, so that putting them on 3 and 4 cannot clobber one.
        high = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in (to_child, from_child)]
        os.close(to_child)
        os.close(from_child)

        def child():
            os.dup2(high[0], 3)
            os.dup2(high[1], 4)

        self.log = open(log_path, "wb")
        self.proc = subprocess.Popen(
            [exe, "--headless=new", "--remote-debugging-pipe", "--no-sandbox", "--disable-gpu",
             "--hide-scrollbars", "--no-first-run", "--disable-extensions", "--lang=en-US",
             f"--user-data-dir={self.profile.name}", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log, pass_fds=(3, 4),
            preexec_fn=child)
        for fd in high:
            os.close(fd)
        self.next_id, self.pending, self.events = 0, b"", []

    def close(self):
        try:
            self.call("Browser.close", timeout=5)
        except Exception:  # it may close the pipe before answering
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self.to_chrome)
        os.close(self.from_chrome)
        self.log.close()
        self.profile.cleanup()

    def _read(self, deadline):
        """The next message from Chromium."""
        while b"\0" not in self.pending:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.from_chrome], [], [], left)[0]:
                raise TimeoutError("Chromium did not answer")
            chunk = os.read(self.from_chrome, 1 << 20)
            if not chunk:
                raise RuntimeError(f"Chromium exited ({self.proc.poll()}); see {self.log.name}")
            self.pending += chunk
        msg, self.pending = self.pending.split(b"\0", 1)
        return json.loads(msg)

    def call(self, method, params=None, session=None, timeout=20):
        """Sends a command and returns its result; events that arrive in
        the meantime are kept in self.events."""
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self.to_chrome, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read(deadline)
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_event(self, method, session, timeout=20):
        deadline = time.monotonic() + timeout
        while True:
            for e in self.events:
                if e.get("method") == method and e.get("sessionId") == session:
                    return e
            self.events.append(self._read(deadline))

    def open(self, url, size, mobile):
        """A new tab of size (CSS px, device scale 1) showing url, loaded;
        returns its session."""
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.call("Target.attachToTarget",
                            {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable", session=session)
        self.resize(session, size, mobile)
        self.call("Page.navigate", {"url": url}, session)
        self.wait_event("Page.loadEventFired", session)
        return session

    def resize(self, session, size, mobile):
        self.call("Emulation.setDeviceMetricsOverride",
                  {"width": size[0], "height": size[1], "deviceScaleFactor": 1,
                   "mobile": mobile}, session)

    def evaluate(self, session, expression):
        r = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True},
                      session)
        if "exceptionDetails" in r:
            raise RuntimeError(f"probe failed: {r['exceptionDetails']}")
        return r["result"]["value"]

    def noise(self, session, page_url):
        """What a quiet page does not cause: console messages, exceptions,
        log entries, and requests for anything but the page itself."""
        out = []
        for e in self.events:
            if e.get("sessionId") != session:
                continue
            m, p = e.get("method"), e.get("params", {})
            if m in ("Runtime.consoleAPICalled", "Runtime.exceptionThrown", "Log.entryAdded"):
                out.append(f"{m}: {json.dumps(p)[:300]}")
            elif m == "Network.requestWillBeSent" and p["request"]["url"] != page_url:
                out.append(f"request: {p['request']['url'][:200]}")
        return out


# ---------------------------------------------------------------- test

class ReportHtml(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        exe = find_chromium()
        if not exe:
            raise RuntimeError("Chromium is not installed (Debian: apt-get install chromium; "
                               "tools/deps.sh installs it), or set AC_CHROMIUM")
        cls.out = os.environ.get("AC_TEST_OUT") or tempfile.mkdtemp(prefix="ac-report-html-")
        os.makedirs(cls.out, exist_ok=True)
        print(f"\nscreenshots and pages in {cls.out}", file=sys.stderr)
        cls.chrome = Chromium(exe, os.path.join(cls.out, "chromium.log"))
        try:
            cls.page = cls.render(SAMPLE, "report.html")
            cls.phone = cls.probe(cls.page, PHONE)
        except BaseException:
            cls.chrome.close()  # tearDownClass does not run after a failed setUpClass
            raise

    @classmethod
    def tearDownClass(cls):
        cls.chrome.close()

    @classmethod
    def render(cls, report, name):
        """Renders a report file to AC_TEST_OUT/name; returns the path."""
        path = os.path.join(cls.out, name)
        subprocess.run([os.path.join(BIN_DIR, "render_report_json"), "html", report, path],
                       check=True, timeout=10)
        return path

    @classmethod
    def probe(cls, page, size):
        """The probe's findings on page at size (a phone below 700 px),
        with what the page caused that it should not have, and its tab."""
        url = "file://" + page
        session = cls.chrome.open(url, size, size[0] < 700)
        found = json.loads(cls.chrome.evaluate(session, PROBE))
        found["noise"] = cls.chrome.noise(session, url)
        found["session"] = session
        return found

    @classmethod
    def screenshot(cls, found, size, mobile, path, scale=1):
        """The whole page of a probed tab as a PNG at path, drawn at scale.
        The tab comes to the front first: Chromium hardly draws one behind
        another, and the capture would wait for a frame."""
        cls.chrome.call("Page.bringToFront", session=found["session"])
        cls.chrome.resize(found["session"], (size[0], found["height"]), mobile)
        clip = {"x": 0, "y": 0, "width": size[0], "height": found["height"], "scale": scale}
        shot = cls.chrome.call("Page.captureScreenshot", {"format": "png", "clip": clip},
                               found["session"])
        with open(path, "wb") as f:
            f.write(base64.b64decode(shot["data"]))

    def assert_laid_out(self, found, size):
        """What every size must satisfy."""
        self.assertEqual(found["vw"], size[0])
        self.assertEqual(found["sections"], list(SECTIONS))
        self.assertEqual(found["problems"], [])
        self.assertLessEqual(found["scrollWidth"], size[0], "the page scrolls sideways")
        self.assertNotIn("hidden", found["overflowX"], "overflow hidden would hide a problem")
        self.assertNotIn("clip", found["overflowX"])
        small = [f for f in found["fonts"] if f[0] < MIN_FONT_PX - 0.05]
        self.assertEqual(small, [], f"text under {MIN_FONT_PX} px")
        self.assertEqual(found["resources"], [], "the page fetched something")
        self.assertEqual(found["noise"], [])
        self.assertEqual(found["scripts"], 0)

    def test_1_phone(self):
        found = self.phone
        self.assert_laid_out(found, PHONE)
        self.assertEqual(found["kinds"], ["review_request", "referral_invite"])
        # Ratings, the narrow volume chart and two holdout charts.
        self.assertEqual(found["visibleSvgs"], 4)
        self.assertIn("Retention report: st_northside", found["text"])
        self.assertIn("Repeat purchase: 14.0 % messaged vs 9.3 % held out", found["text"])

    def test_2_desktop(self):
        found = self.probe(self.page, DESKTOP)
        self.assert_laid_out(found, DESKTOP)
        self.assertEqual(found["visibleSvgs"], 4)  # the wide volume chart instead
        r = found["rects"]
        self.assertEqual(r["ratings"]["top"], r["messages"]["top"], "ratings beside messages")
        self.assertGreater(r["messages"]["left"], r["ratings"]["right"])
        shot = os.path.join(self.out, "report_desktop.png")
        self.screenshot(found, DESKTOP, False, shot)
        print(f"desktop screenshot: {shot}", file=sys.stderr)

    def test_3_hostile_strings(self):
        with open(SAMPLE, encoding="utf-8") as f:
            report = json.load(f)
        evil = '<script>alert(1)</script>&"' + "x" * 120
        report["store"] = evil
        report["messages"]["<b>" + "a_very_long_message_kind" * 4] = {"<img src=x>": 3}
        report["holdout"]["<b>" + "long_kind_" * 12] = report["holdout"]["review_request"]
        path = os.path.join(self.out, "hostile.json")
        with open(path, "w", encoding="utf-8") as f:
            json.dump(report, f)
        found = self.probe(self.render(path, "hostile.html"), PHONE)
        self.assert_laid_out(found, PHONE)
        self.assertEqual(found["h1"], "Retention report: " + evil)
        self.assertEqual(found["elementsFromReport"], 0)
        self.assertIn("<b>long_kind_", found["kinds"][-1])

    def test_4_phone_screenshot(self):
        shot = os.path.join(self.out, "report_phone.png")
        half = os.path.join(self.out, "report_phone_half.png")
        self.screenshot(self.phone, PHONE, True, shot)
        print(f"phone screenshot: {shot}", file=sys.stderr)
        # Half scale: a smaller reference, and a comparison of the layout
        # rather than of every antialiased edge of the text.
        self.screenshot(self.phone, PHONE, True, half, scale=0.5)
        if os.environ.get("AC_UPDATE_SCREENSHOTS") == "1":
            shutil.copyfile(half, REFERENCE)
            print(f"reference written: {REFERENCE}", file=sys.stderr)
            return
        if not os.path.exists(REFERENCE):
            self.fail(f"no reference {REFERENCE}: run with AC_UPDATE_SCREENSHOTS=1")
        new = png_read(half)
        share, diff = compare(new, png_read(REFERENCE))
        if share > DIFF_SHARE:
            diff_path = os.path.join(self.out, "report_phone_diff.png")
            png_write(diff_path, new[0], new[1], diff)
            self.fail(f"{share:.2%} of the pixels differ from {REFERENCE} (at most "
                      f"{DIFF_SHARE:.0%}): new screenshot {half} (full size: {shot}), "
                      f"differences in red: {diff_path}. If the change is meant, "
                      "AC_UPDATE_SCREENSHOTS=1 writes the reference.")

    def test_5_probe_finds_faults(self):
        with open(self.page, encoding="utf-8") as f:
            text = f.read()
        faults = [
            ('<div class="scroll"><table>', '<div><table>'),
            ("<main>\n", '<main>\n<div style="width:600px">too wide</div>\n'),
            ('<text x="398.0" y="19.0" text-anchor="end">',
             '<text x="430.0" y="19.0" text-anchor="end">'),
            ('<text x="0.0" y="47.0">4 ', '<text x="0.0" y="19.0">4 '),
            ("</style>", "footer{font-size:7px}</style>"),
            ("</main>", '<img src="http://127.0.0.1:9/x.png" alt="">'
                        '<script>console.log("hello")</script></main>'),
        ]
        for old, new in faults:
            self.assertIn(old, text)
            text = text.replace(old, new, 1)
        path = os.path.join(self.out, "faulty.html")
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        found = self.probe(path, PHONE)
        problems = "\n".join(found["problems"])
        self.assertIn("bare table", problems)
        self.assertIn('outside the screen: div "too wide"', problems)
        self.assertIn('clipped by its chart: text "120', problems)
        self.assertIn('overlapping: text "4', problems)
        self.assertGreater(found["scrollWidth"], PHONE[0])
        self.assertTrue([f for f in found["fonts"] if f[0] < MIN_FONT_PX and "A dash" in f[1]])
        noise = "\n".join(found["noise"])
        self.assertIn("request: http://127.0.0.1:9/x.png", noise)
        self.assertIn("Runtime.consoleAPICalled", noise)
        self.assertEqual(found["scripts"], 1)


if __name__ == "__main__":
    unittest.main()
