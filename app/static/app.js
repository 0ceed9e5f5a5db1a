(function () {
  document.addEventListener('click', function (ev) {
    var a = ev.target && ev.target.closest ? ev.target.closest('a.pq-cite, a.pq-view, a.pq-lookup') : null;
    if (!a) return;
    var href = a.getAttribute('href') || '';
    if (a.classList.contains('pq-cite')) {
      var card = document.getElementById(href.slice(1));
      if (!card) return;
      ev.preventDefault();
      card.scrollIntoView({behavior: 'smooth', block: 'nearest'});
      card.classList.remove('pq-flash'); void card.offsetWidth; card.classList.add('pq-flash');
      setTimeout(function () { card.classList.remove('pq-flash'); }, 2500);
      return;
    }
    if (href.indexOf('#lookup/') === 0) {
      ev.preventDefault();
      window.__pqLookup = href;
      var lb = document.getElementById('pq-lookup-req-btn');
      if (lb) lb.click();
      return;
    }
    if (href.indexOf('#view/') !== 0) return;
    ev.preventDefault();
    window.__pqView = href;
    var btn = document.getElementById('pq-view-btn');
    if (btn) btn.click();
  }, true);
})();
