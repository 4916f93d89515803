// "Add a member" and "Remove" on the application form without a round trip; without this script the buttons post
// the form back and the server re-renders it with the rows kept (the form works either way).
(function () {
  var box = document.getElementById("members");
  if (!box) return;
  var max = parseInt(box.dataset.max, 10) || 30;
  var add = box.querySelector("button.add-member");
  var prefix = "remove_member:";

  function rows() { return box.querySelectorAll(".member-row"); }

  // A row's number appears in its labels (in any language's word order): swap the old one for the new.
  function swap(text, from, to) { return text.replace(String(from), String(to)); }

  function renumber() {
    var all = rows();
    for (var i = 0; i < all.length; i++) {
      var row = all[i];
      var pin = row.querySelector("input[name=member_pin]");
      var relation = row.querySelector("select[name=member_relation]");
      var labels = row.querySelectorAll("label");
      var remove = row.querySelector("button.remove-member");
      var was = parseInt(pin.id.replace("member_pin_", ""), 10) + 1;
      var now = i + 1;
      pin.id = "member_pin_" + i;
      relation.id = "member_relation_" + i;
      labels[0].htmlFor = pin.id;
      labels[1].htmlFor = relation.id;
      if (was !== now) {
        labels[0].textContent = swap(labels[0].textContent, was, now);
        labels[1].textContent = swap(labels[1].textContent, was, now);
        remove.setAttribute("aria-label", swap(remove.getAttribute("aria-label") || "", was, now));
      }
      remove.value = prefix + i;
    }
    add.disabled = all.length >= max;
  }

  box.addEventListener("click", function (event) {
    var button = event.target.closest("button");
    if (!button || !box.contains(button)) return;
    var all = rows();
    if (button === add) {
      if (all.length === 0) return;  // no row to copy: the form posts back and the server adds one
      event.preventDefault();
      if (all.length >= max) return;
      var copy = all[all.length - 1].cloneNode(true);
      copy.querySelector("input[name=member_pin]").value = "";
      copy.querySelector("select[name=member_relation]").selectedIndex = 0;
      var errors = copy.querySelectorAll("ul.errors");
      for (var k = 0; k < errors.length; k++) errors[k].remove();
      add.parentNode.insertBefore(copy, add);
      renumber();
      copy.querySelector("input[name=member_pin]").focus();
    } else if (button.classList.contains("remove-member")) {
      event.preventDefault();
      var row = button.closest(".member-row");
      var next = row.nextElementSibling;
      row.remove();
      renumber();
      var focus = next && next.classList.contains("member-row") ? next.querySelector("input") : add;
      if (focus && !focus.disabled) focus.focus();
    }
  });
})();
