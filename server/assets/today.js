// The Today board, live: every `data-refresh` seconds while the page is visible (and at once
// when it becomes visible again), fetches this page again and swaps the new board in, so that
// punches arriving from phones show without a reload. Keyboard focus stays on the same link.
// When the board cannot be fetched (network, or the session ended and the answer is the
// sign-in page), the "Updated at" line says so and the board keeps its last state.
(function () {
  'use strict';
  var live = document.getElementById('today-live');
  var stamp = document.getElementById('today-as-of');
  if (!live || !stamp) {
    return;
  }
  var seconds = Number(live.getAttribute('data-refresh'));
  if (!(seconds >= 5)) {
    seconds = 30;
  }
  var busy = false;

  function refresh() {
    if (busy || document.hidden) {
      return;
    }
    busy = true;
    fetch(window.location.pathname + window.location.search, {
      credentials: 'same-origin',
      cache: 'no-store',
      headers: { Accept: 'text/html' },
    })
      .then(function (response) {
        if (!response.ok || response.redirected) {
          throw new Error('HTTP ' + response.status);
        }
        return response.text();
      })
      .then(function (text) {
        var doc = new DOMParser().parseFromString(text, 'text/html');
        var fresh = doc.getElementById('today-live');
        var freshStamp = doc.getElementById('today-as-of');
        if (!fresh || !freshStamp) {
          throw new Error('no board in the answer');
        }
        var focused = document.activeElement;
        var href = focused && live.contains(focused) ? focused.getAttribute('href') : null;
        fresh = document.importNode(fresh, true);
        live.replaceWith(fresh);
        live = fresh;
        stamp.textContent = freshStamp.textContent;
        stamp.removeAttribute('data-stale');
        if (href) {
          var again = Array.prototype.find.call(live.querySelectorAll('a[href]'), function (a) {
            return a.getAttribute('href') === href;
          });
          if (again) {
            again.focus();
          }
        }
      })
      .catch(function () {
        stamp.setAttribute('data-stale', 'true');
        stamp.textContent = stamp.getAttribute('data-stale-text');
      })
      .then(function () {
        busy = false;
      });
  }

  window.setInterval(refresh, seconds * 1000);
  document.addEventListener('visibilitychange', function () {
    if (!document.hidden) {
      refresh();
    }
  });
})();
