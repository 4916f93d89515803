// Polls a job's status every second and updates the progress bar, and each region's row of a job split by region;
// the page works without it (reload).
(function () {
  var box = document.getElementById("job");
  if (!box) return;
  function showPart(part) {
    var row = document.getElementById("part-" + part.id);
    if (!row) return false;
    var badge = row.querySelector(".badge");
    var newlyFailed = part.status === "failed" && badge.className.indexOf("status-failed") < 0;
    if (badge.textContent !== part.status_label) {
      badge.className = "badge status-" + part.status;
      badge.textContent = part.status_label;
    }
    row.querySelector("progress").value = part.progress;
    row.querySelector(".part-percent").textContent = part.progress + "%";
    if (part.done !== null && part.done !== undefined) row.querySelector(".part-done").textContent = part.done;
    return newlyFailed;  // its error and the button to run it again come with the page
  }
  function poll() {
    fetch(box.dataset.statusUrl, {credentials: "same-origin"}).then(function (r) { return r.json(); }).then(function (job) {
      document.getElementById("job-progress").value = job.progress;
      document.getElementById("job-percent").textContent = job.progress + "%";
      document.getElementById("job-message").textContent = job.message || "";
      var failed = (job.parts || []).map(showPart).some(Boolean);
      if (job.done || failed) { window.location.reload(); } else { setTimeout(poll, 1000); }
    }).catch(function () { setTimeout(poll, 3000); });
  }
  setTimeout(poll, 1000);
})();
