// Times in the viewer's time zone, the UTC value on hover.
function podiumLocalTimes(root) {
  for (const el of (root || document).querySelectorAll("time[datetime]")) {
    if (el.dataset.local) continue;
    const when = new Date(el.getAttribute("datetime"));
    if (isNaN(when)) continue;
    el.title = el.getAttribute("datetime").replace("+00:00", "Z") + " (UTC)";
    el.textContent = when.toLocaleString();
    el.dataset.local = "1";
  }
}
document.addEventListener("DOMContentLoaded", () => podiumLocalTimes());
document.addEventListener("htmx:afterSwap", (e) => podiumLocalTimes(e.target));
