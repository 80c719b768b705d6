// Ironworks UI: live job logs over server-sent events, and a dashboard that
// refreshes itself. Everything else is plain server-rendered HTML.
"use strict";

function followLog(pre) {
  const status = document.getElementById("stream-status");
  const es = new EventSource(pre.dataset.stream);
  es.onmessage = (e) => {
    const n = e.lastEventId;
    if (document.getElementById("L" + n)) return; // already shown (resume overlap)
    const atBottom = window.innerHeight + window.scrollY >= document.body.scrollHeight - 40;
    const line = document.createElement("span");
    line.className = "line";
    line.id = "L" + n;
    const a = document.createElement("a");
    a.className = "ln";
    a.href = "#L" + n;
    a.textContent = n;
    line.append(a, document.createTextNode(e.data));
    pre.append(line);
    if (atBottom) window.scrollTo(0, document.body.scrollHeight);
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

function refresh(el) {
  const every = Number(el.dataset.refresh) * 1000;
  const tick = async () => {
    if (!document.hidden) {
      try {
        const res = await fetch(location.href, { headers: { Accept: "text/html" } });
        if (res.ok) {
          const doc = new DOMParser().parseFromString(await res.text(), "text/html");
          const fresh = doc.getElementById(el.id);
          if (fresh) el.innerHTML = fresh.innerHTML;
        }
      } catch (_) { /* the coordinator restarts; try again next tick */ }
    }
    setTimeout(tick, every);
  };
  setTimeout(tick, every);
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("pre[data-stream]").forEach(followLog);
  document.querySelectorAll("[data-refresh]").forEach(refresh);
});
