// Submits the form_post response to the application as soon as the page
// loads. Without JavaScript, the visible "Continue" button does the same.
document.addEventListener("DOMContentLoaded", function () {
  var form = document.getElementById("form-post");
  if (form) {
    form.submit();
  }
});
