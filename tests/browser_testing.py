"""Open an HTML report in headless Chromium (Debian's ``chromium``) and say what the page did: errors (scripts,
resources that failed to load, Content-Security-Policy violations, console errors) and every ``<img>`` decoded
with its size. Skips without chromium on a laptop, fails without it in CI (``need_binary``).

A copy of the page gets a small checker script as the first element of ``<head>`` (before the report's own CSP,
which therefore does not apply to it); after the load event it writes every image's size as JSON into the DOM,
and again once every image has decoded; ``--dump-dom`` prints it. The network is cut (every host resolves to
nothing), so a report that needs an external URL shows an error here."""

from __future__ import annotations

import html
import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from vitals_testing import need_binary

CHECKER = """<script>(function(){var errs=[];
window.addEventListener('error',function(e){var t=e.target;errs.push(t&&t!==window?'failed to load: '+
(t.currentSrc||t.src||t.href||t.tagName).slice(0,80):'script error: '+e.message)},true);
document.addEventListener('securitypolicyviolation',function(e){errs.push('CSP blocked '+e.violatedDirective+': '+
String(e.blockedURI).slice(0,80))});
var ce=console.error;console.error=function(){errs.push('console: '+Array.prototype.join.call(arguments,' '));
ce.apply(console,arguments)};
function put(r,decoded){var p=document.getElementById('browser-check')||document.createElement('pre');
p.id='browser-check';p.textContent=JSON.stringify({errors:errs,images:r,title:document.title,decoded:decoded});
document.body.appendChild(p)}
window.addEventListener('load',function(){var imgs=Array.prototype.slice.call(document.images);
put(imgs.map(function(i){return {alt:i.alt,w:i.naturalWidth,h:i.naturalHeight,ok:i.complete&&i.naturalWidth>0}}),
false);
Promise.all(imgs.map(function(i){return i.decode().then(function(){return {alt:i.alt,w:i.naturalWidth,
h:i.naturalHeight,ok:true}},function(){return {alt:i.alt,w:0,h:0,ok:false}})})).then(function(r){put(r,true)})})
})();</script>"""

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--host-resolver-rules=MAP * ~NOTFOUND")


@dataclass(frozen=True)
class PageCheck:
    errors: list[str]
    images: list[dict]
    title: str
    dom: str

    @property
    def broken_images(self) -> list[str]:
        return [i["alt"] for i in self.images if not i["ok"] or i["w"] < 50 or i["h"] < 50]


def external_urls(page: str) -> list[str]:
    """Every src/href/url() that is not a data: URI or a fragment of the same page."""
    found = re.findall(r"""(?:src|href)\s*=\s*["']?([^"'\s>]+)""", page, flags=re.IGNORECASE)
    found += re.findall(r"url\(\s*['\"]?([^'\")]+)", page)
    return [u for u in found if not u.startswith(("data:", "#"))]


def open_in_chromium(report: Path, workdir: Path) -> PageCheck:
    """Load ``report`` (a copy with the checker) in headless Chromium; the page's check result."""
    chromium = need_binary("chromium")
    text = report.read_text(encoding="utf-8")
    head = re.search(r"<head[^>]*>", text, flags=re.IGNORECASE)
    assert head, f"{report} has no <head>"
    workdir.mkdir(parents=True, exist_ok=True)
    copy = workdir / f"checked-{report.name}"
    copy.write_text(text[: head.end()] + CHECKER + text[head.end():], encoding="utf-8")
    # a busy machine may dump the page before the decodes settle (seen once in CI at the third budget, two test
    # workers on a loaded host): longer budgets, then the longest once more
    for budget in (10_000, 30_000, 60_000, 120_000, 120_000):
        done = subprocess.run([chromium, *FLAGS, f"--virtual-time-budget={budget}",
                               f"--user-data-dir={workdir / 'profile'}", "--dump-dom", copy.resolve().as_uri()],
                              capture_output=True, text=True, timeout=180, check=False)
        match = re.search(r'<pre id="browser-check">(.*?)</pre>', done.stdout, flags=re.DOTALL)
        result = json.loads(html.unescape(match.group(1))) if match else None
        if result is not None and result["decoded"]:
            break
    assert result is not None, f"chromium did not load the page (exit {done.returncode}): {done.stderr[-2000:]}"
    assert result["decoded"], "chromium loaded the page, but the images did not finish decoding"
    return PageCheck(result["errors"], result["images"], result["title"], done.stdout)
