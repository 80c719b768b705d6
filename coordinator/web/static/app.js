// Ironworks UI: live job logs over server-sent events, and pages that
// reload their live part when the coordinator's state changes (the /events
// stream). Everything else is plain server-rendered HTML.
"use strict";

function followLog(pre) {
  const status = document.getElementById("stream-status");
  const es = new EventSource(pre.dataset.stream);
  es.onmessage = (e) => {
    const n = e.lastEventId;
    if (document.getElementById("L" + n)) return; // already shown (resume overlap)
    const line = document.createElement("span");
    line.className = "line";
    line.id = "L" + n;
    const a = document.createElement("a");
    a.className = "ln";
    a.href = "#L" + n;
    a.textContent = n;
    line.append(a, document.createTextNode(e.data));
    pre.append(line);
    if (following()) window.scrollTo(0, document.body.scrollHeight);
  };
  es.addEventListener("end", (e) => {
    es.close();
    const st = document.getElementById("job-state");
    if (st) {
      st.textContent = e.data;
      st.className = "badge st-" + (e.data === "success" ? "green" : e.data === "skipped" || e.data === "cancelled" ? "cancelled" : "red");
    }
    if (status) status.textContent = "finished: " + e.data;
  });
  es.onerror = () => { if (status) status.textContent = "reconnecting…"; };
  es.onopen = () => { if (status) status.textContent = "following live…"; };
}

function following() {
  const f = document.getElementById("follow");
  return f !== null && f.checked;
}

// live reloads every [data-refresh] part of the page when the coordinator
// says its state changed since the page was made.
function live(parts) {
  let want = document.body.dataset.live || "", busy = false, tries = 0;
  const reload = async () => {
    if (busy || tries++ > 20) return;
    busy = true;
    let have = "";
    try {
      const res = await fetch(location.href, { headers: { Accept: "text/html" } });
      if (res.ok) {
        const doc = new DOMParser().parseFromString(await res.text(), "text/html");
        parts.forEach((el) => {
          const fresh = doc.getElementById(el.id);
          if (fresh) el.innerHTML = fresh.innerHTML;
        });
        have = doc.body.dataset.live || "";
        document.body.dataset.live = have;
        document.body.dataset.updated = String(Date.now());
      }
    } catch (_) { /* the coordinator restarts; try again below */ }
    busy = false;
    // A page made before the newest change (a cached dashboard) is fetched
    // again in a moment.
    if (have !== want) setTimeout(reload, 300);
  };
  const es = new EventSource("/events?since=" + encodeURIComponent(want));
  es.addEventListener("change", (e) => { want = e.data; tries = 0; reload(); });
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("pre[data-stream]").forEach(followLog);
  const parts = document.querySelectorAll("[data-refresh]");
  if (parts.length > 0) live(parts);
  if (document.querySelector("pre[data-stream]") && following()) window.scrollTo(0, document.body.scrollHeight);
});
