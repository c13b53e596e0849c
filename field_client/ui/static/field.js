// Jemput field web app: small progressive enhancements. Every page works without this file;
// it adds the live NIK check, the camera, the sync progress and the network badge.
"use strict";

(function () {
  function $(selector, root) { return (root || document).querySelector(selector); }

  function bytes(n) {
    if (n >= 1048576) return (n / 1048576).toFixed(1) + " MB";
    if (n >= 1024) return (n / 1024).toFixed(0) + " KB";
    return n + " bita";
  }

  function when(iso) {
    var d = new Date(iso);
    function two(n) { return (n < 10 ? "0" : "") + n; }
    return two(d.getDate()) + "-" + two(d.getMonth() + 1) + "-" + d.getFullYear() + " " +
      two(d.getHours()) + ":" + two(d.getMinutes());
  }

  // -- network badge, counts and sync progress ------------------------------------------------
  var net = $("#net");
  var panel = $("#sync-panel");
  var wasRunning = panel && panel.dataset.running === "true";

  function showStatus(s) {
    if (net) {
      net.textContent = s.online ? "Terhubung ke server" : "Tanpa jaringan: rekaman tetap aman di laptop";
      net.className = "net " + (s.online ? "online" : "offline");
    }
    if (!panel) return;
    var counts = s.counts || {};
    Object.keys(counts).forEach(function (state) {
      var el = $("#count-" + state);
      if (el && state !== "draft") el.textContent = counts[state];
    });
    if ($("#count-total")) $("#count-total").textContent = s.total;
    if ($("#count-draft")) $("#count-draft").textContent = s.drafts;
    if ($("#last-sync")) $("#last-sync").textContent = s.last_sync_at ? when(s.last_sync_at) : "belum pernah";
    var sync = s.sync || {};
    var box = $("#sync-progress");
    var button = $("#sync-button");
    if (sync.running) {
      box.hidden = false;
      button.disabled = true;
      $("#records-bar").max = Math.max(sync.records_total, 1);
      $("#records-bar").value = sync.records_done;
      $("#records-text").textContent = sync.records_done + " / " + sync.records_total;
      $("#bytes-bar").max = Math.max(sync.bytes_total, 1);
      $("#bytes-bar").value = sync.bytes_done;
      $("#bytes-text").textContent = bytes(sync.bytes_done) + " / " + bytes(sync.bytes_total);
      $("#sync-message").textContent = "Sinkronisasi berjalan…";
      $("#sync-message").className = "";
    } else {
      button.disabled = false;
      if (wasRunning) {
        // The run ended while this page watched: show the records' new states.
        window.location.reload();
        return;
      }
    }
    wasRunning = !!sync.running;
  }

  function poll() {
    if (!net) return;
    fetch(net.dataset.statusUrl, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (r) {
        if (r.status === 401) {
          // The session ended (idle, or Keluar in another tab): stop asking, say so once.
          net.textContent = "Sesi berakhir: muat ulang halaman lalu masuk lagi.";
          net.className = "net off";
          return "ended";
        }
        return r.ok ? r.json() : null;
      })
      .then(function (s) {
        if (s === "ended") return;
        if (s) showStatus(s);
        setTimeout(poll, s && s.sync && s.sync.running ? 700 : 5000);
      })
      .catch(function () { setTimeout(poll, 5000); });
  }

  var syncForm = $("#sync-form");
  if (syncForm) {
    syncForm.addEventListener("submit", function (event) {
      event.preventDefault();
      $("#sync-button").disabled = true;
      fetch(syncForm.action, {
        method: "POST", body: new FormData(syncForm), credentials: "same-origin",
        headers: { Accept: "application/json" }
      }).then(function (r) { return r.json(); }).then(function () {
        wasRunning = true;
        $("#sync-progress").hidden = false;
        $("#sync-message").textContent = "Sinkronisasi berjalan…";
      }).catch(function () { syncForm.submit(); });
    });
  }

  // -- the NIK, checked while typed (the shared rules, on this laptop) -------------------------
  var form = $("#enroll-form");
  if (form) {
    var nik = $("#nik"), born = $("#tanggal_lahir"), sex = $("#jenis_kelamin"), info = $("#nik-info");
    var timer = null;
    function checkNik() {
      if (!nik.value) { info.textContent = ""; return; }
      var q = new URLSearchParams({ nik: nik.value, tanggal_lahir: born.value, jenis_kelamin: sex.value });
      fetch(form.dataset.nikUrl + "?" + q.toString(), { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (r) { return r.json(); })
        .then(function (res) {
          var lines = [];
          (res.errors && res.errors.nik || []).forEach(function (m) { lines.push(m); });
          (res.warnings || []).forEach(function (w) { lines.push(w.message); });
          if (res.ok && res.facts) {
            lines.unshift("NIK sah: " + [res.facts.kabupaten, res.facts.provinsi].filter(Boolean).join(", ")
              + " · lahir " + res.facts.tanggal_lahir + " · " + res.facts.jenis_kelamin);
          }
          info.textContent = lines.join(" ");
          info.className = "nik-info " + (!res.ok ? "bad" : (res.warnings && res.warnings.length ? "warn" : "good"));
        }).catch(function () {});
    }
    function later() { clearTimeout(timer); timer = setTimeout(checkNik, 250); }
    nik.addEventListener("input", later);
    born.addEventListener("change", later);
    sex.addEventListener("change", later);
    // A NIK the server already refused is said beside the field: no second copy of it.
    if (nik.value && !$("#field-nik.has-error")) checkNik();
  }

  // -- the laptop camera for the face photo, where one exists --------------------------------
  document.querySelectorAll(".camera").forEach(function (box) {
    if (!(navigator.mediaDevices && navigator.mediaDevices.getUserMedia && window.DataTransfer)) return;
    box.hidden = false;
    var video = $(".camera-view", box), shoot = $(".camera-shoot", box), note = $(".camera-note", box);
    var input = document.getElementById(box.dataset.target);
    var stream = null;
    $(".camera-open", box).addEventListener("click", function () {
      navigator.mediaDevices.getUserMedia({ video: true }).then(function (s) {
        stream = s; video.srcObject = s; video.hidden = false; note.textContent = "Menyalakan kamera…";
        // The button appears once frames arrive: a shot before that would be an empty image.
        video.onloadedmetadata = function () { shoot.hidden = false; note.textContent = ""; };
      }).catch(function () { note.textContent = "Kamera tidak dapat dibuka; pilih berkas foto."; });
    });
    shoot.addEventListener("click", function () {
      var canvas = document.createElement("canvas");
      canvas.width = video.videoWidth; canvas.height = video.videoHeight;
      canvas.getContext("2d").drawImage(video, 0, 0);
      canvas.toBlob(function (blob) {
        if (!blob) { note.textContent = "Gambar kamera kosong; coba potret lagi."; return; }
        var dt = new DataTransfer();
        dt.items.add(new File([blob], "kamera.jpg", { type: "image/jpeg" }));
        input.files = dt.files;
        note.textContent = "Foto kamera siap dilampirkan (" + bytes(blob.size) + ").";
        stream.getTracks().forEach(function (t) { t.stop(); });
        video.hidden = true; shoot.hidden = true;
      }, "image/jpeg", 0.92);
    });
  });

  // -- one submit per click; confirmations --------------------------------------------------
  document.querySelectorAll("form.once").forEach(function (f) {
    f.addEventListener("submit", function () {
      setTimeout(function () { f.querySelectorAll("button").forEach(function (b) { b.disabled = true; }); }, 0);
    });
  });
  // Back to a page from the browser's cache: its buttons must work again.
  window.addEventListener("pageshow", function (event) {
    if (!event.persisted) return;
    document.querySelectorAll("form.once button").forEach(function (b) { b.disabled = false; });
  });
  document.querySelectorAll("form[data-confirm]").forEach(function (f) {
    f.addEventListener("submit", function (event) {
      if (!window.confirm(f.dataset.confirm)) event.preventDefault();
    });
  });

  poll();
})();
