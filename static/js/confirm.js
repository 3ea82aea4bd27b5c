// Actions that cannot be undone ask first: a form with data-confirm="question" is sent only
// when the person agrees. Without JavaScript the form is sent as before. This module is
// loaded before each page's own, so their submit handlers see a refusal (defaultPrevented).
for (const form of document.querySelectorAll("form[data-confirm]")) {
  form.addEventListener("submit", (event) => {
    if (!window.confirm(form.dataset.confirm)) event.preventDefault();
  });
}
