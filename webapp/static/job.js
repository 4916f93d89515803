// Polls a job's status every second and updates the progress bar; the page works without it (reload).
(function () {
  var box = document.getElementById("job");
  if (!box) return;
  function poll() {
    fetch(box.dataset.statusUrl, {credentials: "same-origin"}).then(function (r) { return r.json(); }).then(function (job) {
      document.getElementById("job-progress").value = job.progress;
      document.getElementById("job-percent").textContent = job.progress + "%";
      document.getElementById("job-message").textContent = job.message || "";
      if (job.done) { window.location.reload(); } else { setTimeout(poll, 1000); }
    }).catch(function () { setTimeout(poll, 3000); });
  }
  setTimeout(poll, 1000);
})();
