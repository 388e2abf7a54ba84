import { auth } from './api.js';
import { startsChallenge } from './forms.js';

startsChallenge('passwordless', (form) => {
  const fields = form.elements as HTMLFormControlsCollection & Record<'identifier', HTMLInputElement>;
  return auth.start({ identifier: fields.identifier.value.trim(), purpose: 'login' });
});
