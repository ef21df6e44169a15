// Report behaviour, offline and dependency-free: filter findings by text; expand or collapse all.
(function () {
  "use strict";
  var box = document.getElementById("filter");
  var items = Array.prototype.slice.call(document.querySelectorAll("#findings details"));
  if (box) {
    box.addEventListener("input", function () {
      var q = box.value.toLowerCase();
      items.forEach(function (d) {
        d.style.display = (!q || d.textContent.toLowerCase().indexOf(q) !== -1) ? "" : "none";
      });
    });
  }
  function setAll(open) { items.forEach(function (d) { d.open = open; }); }
  var ex = document.getElementById("expand-all");
  var co = document.getElementById("collapse-all");
  if (ex) { ex.addEventListener("click", function () { setAll(true); }); }
  if (co) { co.addEventListener("click", function () { setAll(false); }); }
})();
