import { auth } from './api.js';
import { startsChallenge } from './forms.js';

startsChallenge('signin', (form) => {
  const fields = form.elements as HTMLFormControlsCollection & Record<'identifier' | 'password', HTMLInputElement>;
  return auth.login({ identifier: fields.identifier.value.trim(), password: fields.password.value });
});
